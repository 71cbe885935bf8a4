"""Identity links: a browser's visitor id belongs to a lead.

The collector publishes one when a form submission names the lead (by a known lead id or
an email address, which becomes a keyed hash). The worker does not read these links yet:
merging a visitor's anonymous history into the lead is the identity issue's work.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

_Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class IdentityLink(BaseModel):
    """The visitor (a first-party cookie id) is the lead; keyed by `lead_id`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["identity.link"]
    link_id: _Id = Field(description="Unique id of this link (repeats may be dropped).")
    visitor_id: _Id = Field(description="The browser's first-party visitor id.")
    anonymous_lead_id: _Id = Field(
        description="The lead id the collector gave this visitor's events before (anon-<visitor>)."
    )
    lead_id: _Id = Field(description="The lead the visitor turned out to be; the message key.")
    email_lead_id: _Id | None = Field(
        None,
        description=(
            "The keyed hash of the submitted email address, when it differs from lead_id "
            "(a known lead submitted a form); never the address itself."
        ),
    )
    method: Literal["form"] = Field(description="How the link was learned.")
    form_id: _Id | None = None
    occurred_at: AwareDatetime


IDENTITY_MODEL_BY_SCHEMA = {"identity-link.v1.schema.json": IdentityLink}
