"""Identity links: a browser's visitor id belongs to a lead.

Published by the collector when a form submission names the lead (by a known lead id or
an email address, which becomes a keyed hash) or an email click's tracked link carries
it, and by a CRM (any producer) naming both a visitor id and a lead id. The worker merges
the visitor's anonymous history into the lead (see docs/identity.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from scorer.core.identity import Link, anonymous_lead_id, is_anonymous

_Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class IdentityLink(BaseModel):
    """The visitor (a first-party cookie id) is the lead; keyed by `lead_id`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["identity.link"]
    link_id: _Id = Field(description="Unique id of this link (repeats may be dropped).")
    visitor_id: _Id = Field(description="The browser's first-party visitor id.")
    anonymous_lead_id: _Id = Field(
        description="The lead id the collector gave this visitor's events before (anon:<visitor>)."
    )
    lead_id: _Id = Field(description="The lead the visitor turned out to be; the message key.")
    email_lead_id: _Id | None = Field(
        None,
        description=(
            "The keyed hash of the submitted email address, when it differs from lead_id "
            "(a known lead submitted a form); never the address itself."
        ),
    )
    method: Literal["form", "email_click", "crm"] = Field(description="How the link was learned.")
    form_id: _Id | None = None
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _anonymous_lead_of_visitor(self) -> IdentityLink:
        if self.anonymous_lead_id != anonymous_lead_id(self.visitor_id):
            raise ValueError("anonymous_lead_id must be anon:<visitor_id>")
        if is_anonymous(self.lead_id):
            raise ValueError("lead_id must be a known lead, not an anonymous one")
        return self

    def to_core(self) -> Link:
        return Link(self.link_id, self.visitor_id, self.lead_id, self.occurred_at.timestamp())


def parse_link(raw: bytes | str) -> Link:
    """Validate one identity link; raises pydantic.ValidationError."""
    return IdentityLink.model_validate_json(raw).to_core()


IDENTITY_MODEL_BY_SCHEMA = {"identity-link.v1.schema.json": IdentityLink}
