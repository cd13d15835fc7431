from rest_framework import serializers

from console.models.images import ImageBump, ImageInventoryEntry, ImageTagChange


class ImageInventorySerializer(serializers.ModelSerializer):
    class Meta:
        model = ImageInventoryEntry
        fields = ["image", "tag", "digest", "file", "location", "source", "commit_sha"]


class EffectiveCommitSerializer(serializers.Serializer):
    sha = serializers.CharField(source="effective_sha")
    subject = serializers.CharField(source="effective_subject")
    committed_at = serializers.DateTimeField(source="effective_committed_at", allow_null=True)


class ImageTagChangeSerializer(serializers.ModelSerializer):
    made_by_console = serializers.SerializerMethodField()
    authored_commit = serializers.CharField(source="commit_sha", read_only=True,
                                            help_text="the commit that made the change (commit_sha)")
    effective_commit = EffectiveCommitSerializer(
        source="*", read_only=True,
        help_text="the deploy branch's first-parent commit where the change took effect: the commit itself or "
                  "the merge that brought it",
    )
    rewritten = serializers.BooleanField(read_only=True,
                                         help_text="a force-push removed the commit where it took effect")

    class Meta:
        model = ImageTagChange
        fields = [
            "id", "image", "old_image", "kind", "old_tag", "new_tag", "old_digest", "new_digest", "file",
            "location",
            "commit_sha", "commit_author", "commit_email", "committed_at", "commit_subject", "authored_commit",
            "effective_commit", "on_deploy_line", "own_change", "cause", "rewritten", "rewritten_at",
            "sync_run", "bump", "made_by_console", "recorded_at",
        ]

    def get_made_by_console(self, change) -> bool:
        return change.bump_id is not None


class ImageBumpRequestSerializer(serializers.Serializer):
    image = serializers.CharField(max_length=500)
    tag = serializers.CharField(max_length=128)
    file = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    location = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ImageBumpSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    merge_request = serializers.SerializerMethodField(
        help_text="bumps by merge request: its URL and state (opened, merged, closed), else null")

    class Meta:
        model = ImageBump
        fields = [
            "id", "repository", "image", "tag", "file", "location", "reason", "trigger", "actor", "trigger_detail",
            "status", "queued_at", "started_at", "finished_at", "old_tag", "commit_sha", "sync_run", "error_code",
            "error_message", "merge_request",
        ]
        read_only_fields = fields

    def get_merge_request(self, bump) -> dict | None:
        request = getattr(bump, "merge_request", None)
        if request is None:
            return None
        return {"url": request.url, "iid": request.iid, "state": request.state,
                "merge_commit_sha": request.merge_commit_sha, "completed_at": request.completed_at}


class BuiltImageSerializer(serializers.Serializer):
    image = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                  help_text="defaults to the repository's image name")
    tag = serializers.CharField(max_length=128)
    commit_sha = serializers.RegexField(r"^[0-9a-f]{7,64}$", required=False, allow_blank=True, default="")


class RedeployWarningSerializer(serializers.Serializer):
    image = serializers.CharField()
    tag = serializers.CharField()
    commit_sha = serializers.CharField()
    source = serializers.CharField()
    reported_at = serializers.DateTimeField()
    repository = serializers.CharField(allow_null=True)
    bump_candidates = serializers.ListField(child=serializers.DictField())
    image_scans = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="with no bump candidate: infra repositories never scanned (pending) or whose last scan failed")
    message = serializers.CharField()


class BuiltImageReceiptSerializer(serializers.Serializer):
    """What a pipeline gets back for a built-image report: its own release only."""

    image = serializers.CharField()
    tag = serializers.CharField()
    warning_open = serializers.BooleanField(help_text="no infra repository deploys this tag yet")
    bump_candidates = serializers.IntegerField(help_text="how many places in infra repositories set this image")
