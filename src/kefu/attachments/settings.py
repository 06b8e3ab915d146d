"""``attachments:`` settings: what a file may be, how many a visitor may send, how long
an unsent upload and a download link live."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIB = 1024 * 1024


class AttachmentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key fails at start

    # 10 MiB holds a phone photo or a scanned invoice; bigger files belong in a ticket tool.
    max_bytes: int = Field(default=10 * MIB, ge=1024, le=1024 * MIB)
    # Types decided from the content's magic bytes, never from the name or Content-Type.
    allowed_types: list[str] = Field(
        default_factory=lambda: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
        ]
    )
    # Upload quotas over the last hour (a sliding window, counted from the store, so all
    # nodes share them). Agents are not limited: they are the company's own staff.
    # One visitor: a chat with a dozen photos and a few PDFs fits, a flood does not.
    visitor_files_per_hour: int = Field(default=30, ge=1)
    visitor_bytes_per_hour: int = Field(default=100 * MIB, ge=1024)
    # One address: several visitors behind one office or carrier NAT share it.
    ip_files_per_hour: int = Field(default=120, ge=1)
    ip_bytes_per_hour: int = Field(default=400 * MIB, ge=1024)
    # One API token (a department system pushing files over gRPC): a call center's
    # recordings of a busy hour fit; a runaway loop stops within the hour.
    token_files_per_hour: int = Field(default=2000, ge=1)
    token_bytes_per_hour: int = Field(default=20 * 1024 * MIB, ge=1024)
    # Uploads never sent in a message are deleted this long after upload: time enough to
    # write the message that carries them, short enough that a dropped upload is not
    # kept.
    unsent_max_age_hours: float = Field(default=24.0, gt=0)
    # How often a node looks for such uploads (nodes take turns on PostgreSQL).
    sweep_seconds: float = Field(default=600.0, gt=0)
    # A download link in a message payload opens its one file for this long: long enough
    # to open a conversation and click, short enough that a link copied out of a log or
    # a browser's history soon opens nothing.
    download_url_seconds: int = Field(default=600, ge=10, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _quotas_hold_a_file(self) -> AttachmentSettings:
        for name in ("visitor_bytes_per_hour", "ip_bytes_per_hour", "token_bytes_per_hour"):
            if getattr(self, name) < self.max_bytes:
                raise ValueError(f"{name} is below max_bytes: no file of that size could pass")
        return self
