"""Settings, all from the environment, with embedded defaults that run on one machine.

Embedded defaults: SQLite, kombu's filesystem broker, the local bare-repo forge under ``var/`` and GitOps
delivery into its platform repository. Production (``DSO_ENV=production``) fails fast when a value that has
no safe default is missing. Every variable is documented in ``.env.example``.

One module per sub-domain, read in this order (a later one may extend an earlier one's values, e.g. the API's
authenticators or the middleware list); Django reads the upper-case names gathered here.
"""

from console.settings.environment import *  # noqa: F401,F403
from console.settings.web import *  # noqa: F401,F403
from console.settings.workers import *  # noqa: F401,F403
from console.settings.integrations import *  # noqa: F401,F403
from console.settings.identity import *  # noqa: F401,F403
from console.settings.operations import *  # noqa: F401,F403
