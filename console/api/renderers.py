from rest_framework.renderers import BaseRenderer


class YAMLTextRenderer(BaseRenderer):
    """Renders a string that already is YAML; errors still go out as JSON."""

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        import json

        return json.dumps(data).encode(self.charset)
