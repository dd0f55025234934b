"""What the column mapping knows: header synonyms, vocabularies and value shapes.

Mostly plain data, kept apart from the mapping logic. Targets are named by their
``Target`` value (``"email"``), statuses and stages by their enum values.
"""

from __future__ import annotations

import re
from typing import Final

from velocity_domain.crm.entities import LeadStatus, OpportunityStage
from velocity_domain.errors import ValidationFailed
from velocity_domain.imports.transforms import (
    fast_phone,
    parse_budget,
    parse_when,
    split_phones,
    undo_excel_number,
    vocabulary_key,
)
from velocity_domain.kernel.normalize import normalize_email

# Each line: the meaning, then the texts that mean it, separated by "|".
_STATUS_TEXTS: Final = {
    LeadStatus.OPEN: "open|new|in progress|attempted to contact|connected|bad timing"
    "|open - not contacted|working - contacted|not contacted|contacted|warm|cold"
    "|follow up|followup|follow-up|call back|callback|call later|no response|not reachable"
    "|ringing|switched off|pending|nurturing|fresh|untouched|working",
    LeadStatus.QUALIFIED: "qualified|open deal|hot|interested|site visit scheduled"
    "|site visit done|sv scheduled|sv done|visit done|sales qualified|prospect",
    LeadStatus.DISQUALIFIED: "disqualified|unqualified|not qualified|closed - not converted"
    "|junk|lost|not interested|invalid|wrong number|spam|duplicate|dnd|do not call|dead"
    "|dropped|closed lost|no requirement|fake",
    LeadStatus.CONVERTED: "converted|closed - converted|booked|won|closed won|booking done",
}

_STAGE_TEXTS: Final = {
    OpportunityStage.NEW: "new|fresh|untouched|subscriber|lead|other|open|prospecting",
    OpportunityStage.CONTACTED: "contacted|marketingqualifiedlead|marketing qualified lead|mql"
    "|salesqualifiedlead|sales qualified lead|sql|qualification|needs analysis|follow up"
    "|followup|in progress|connected|attempted to contact|interested|warm|hot",
    OpportunityStage.SITE_VISIT_SCHEDULED: "site visit scheduled|site visit planned"
    "|sv scheduled|sv planned|visit scheduled|visit planned",
    OpportunityStage.SITE_VISIT_DONE: "site visit done|sv done|visit done|visited"
    "|site visited|revisit|revisit done",
    OpportunityStage.NEGOTIATION: "negotiation|negotiating|opportunity|proposal"
    "|proposal/price quote|negotiation/review|value proposition|id. decision makers"
    "|perception analysis|price negotiation",
    OpportunityStage.BOOKING: "booking|booked|booking done|token received|eoi|eoi received",
    OpportunityStage.WON: "won|closed won|customer|evangelist|sold|registered|registration done",
    OpportunityStage.LOST: "lost|closed lost|dropped|dead|not interested|junk|cancelled",
}


def _words(table: dict[LeadStatus, str] | dict[OpportunityStage, str]) -> dict[str, str]:
    words: dict[str, str] = {vocabulary_key(member.value): member.value for member in table}
    for member, texts in table.items():
        for text in texts.split("|"):
            words.setdefault(vocabulary_key(text), member.value)
    return words


def status_words() -> dict[str, str]:
    """The default status vocabulary: text key -> :class:`LeadStatus` value."""
    return _words(_STATUS_TEXTS)


def stage_words() -> dict[str, str]:
    """The default stage vocabulary: text key -> :class:`OpportunityStage` value."""
    return _words(_STAGE_TEXTS)


# Header synonyms (HubSpot, Salesforce, Zoho, Odoo and hand-made sheets), compared
# by their letters and digits only: "E-mail", "Email ID" and "EmailId" are one entry each.
_HEADER_TEXTS: Final = {
    "full_name": "full name|name|contact name|customer name|client name|lead name|buyer name"
    "|prospect name|person name|contact person|customer|client|applicant name",
    "first_name": "first name|firstname|fname|given name|first",
    "middle_name": "middle name|middlename|mname|middle",
    "last_name": "last name|lastname|lname|surname|family name|last",
    "email": "email|e-mail|email id|email address|mail|mail id|e-mail id|email addr"
    "|primary email|personal email|work email|emailaddress|e-mail address",
    "phone": "phone|phone number|phone no|contact no|contact number|telephone|tel|landline"
    "|alternate number|alternate no|alternate phone|alt phone|alt no|secondary phone"
    "|business phone|work phone|home phone|other phone|contact phone",
    "mobile": "mobile|mobile no|mobile number|mobile phone|mobile phone number|mobilephone"
    "|whatsapp|whatsapp number|whatsapp no|cell|cell phone|cell no|cell number|mob|mob no"
    "|mobile no.|primary mobile",
    "company": "company|company name|organisation|organization|account|account name|employer|firm",
    "source_ref": "record id|id|lead id|contact id|external id|crm id|ref no|reference"
    "|reference no|enquiry id|inquiry id|customer id|client id",
    "lead_source": "source|lead source|leadsource|original source|source name|enquiry source"
    "|inquiry source|lead channel|channel|source of lead",
    "lead_status": "status|lead status|leadstatus|enquiry status|inquiry status",
    "stage": "stage|lifecycle stage|lead stage|pipeline stage|deal stage|sales stage",
    "owner": "owner|contact owner|lead owner|owner id|ownerid|assigned to|salesperson"
    "|sales person|sales rep|rm|relationship manager|agent|executive|sales executive"
    "|sales manager|assignee|handled by|owner name",
    "created_at": "create date|created date|createddate|created on|created at|created"
    "|date|enquiry date|inquiry date|lead date|date added|creation date|created time"
    "|lead created date|date created",
    "budget": "budget|budget range|price range|budget inr|budget (inr)|budget in inr"
    "|expected budget",
    "budget_min": "min budget|budget min|minimum budget|budget from",
    "budget_max": "max budget|budget max|maximum budget|budget to|budget upto",
    "interest": "interested in|project|project name|requirement|interest|looking for"
    "|property|property type|enquired for|inquired for|project interested",
    "configuration": "configuration|bhk|config|unit type|flat type|apartment type|typology",
    "notes": "remarks|remark|comments|comment|notes|note|description|feedback|details",
    "city": "city|town|preferred city|city name",
}

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def compact(header: str) -> str:
    """A header's letters and digits only, case-folded: the key header synonyms use."""
    return _NOT_ALNUM.sub("", header.casefold())


HEADER_SYNONYMS: Final = {
    compact(text): target for target, texts in _HEADER_TEXTS.items() for text in texts.split("|")
}

# Words that send an otherwise unknown header somewhere, tried in this order: a rule
# applies when the header has one of its words, one of the words it needs (if any) and
# none of the words that rule it out. An empty target stops the search: not recognised.
# ("Owner Name" is an owner and "Project Name" an interest, so they come before "name".)
KEYWORD_RULES: Final[tuple[tuple[frozenset[str], frozenset[str], frozenset[str], str], ...]] = (
    tuple(
        (frozenset(words.split()), frozenset(needs.split()), frozenset(unless.split()), target)
        for words, needs, unless, target in (
            ("campaign utm", "", "", ""),
            ("email mail emailid", "", "", "email"),
            ("mobile whatsapp cell mob", "", "", "mobile"),
            ("phone tel telephone landline", "", "", "phone"),
            ("owner assigned salesperson agent executive rm manager", "", "", "owner"),
            ("company organisation organization employer", "", "", "company"),
            ("budget price", "min minimum from lowest", "", "budget_min"),
            ("budget price", "max maximum upto to highest", "", "budget_max"),
            ("budget price", "", "", "budget"),
            ("created", "", "", "created_at"),
            (
                "date",
                "",
                "visit follow followup next birth dob booking possession closing close"
                " modified updated last activity expected",
                "created_at",
            ),
            ("date time modified updated", "", "", ""),
            ("project interest interested requirement property", "", "", "interest"),
            ("bhk configuration config typology", "", "", "configuration"),
            ("source channel", "", "", "lead_source"),
            ("status", "", "", "lead_status"),
            ("stage", "", "", "stage"),
            ("remark remarks comment comments note notes description feedback", "", "", "notes"),
            ("city", "", "", "city"),
            ("first", "", "", "first_name"),
            ("middle", "", "", "middle_name"),
            ("surname last", "", "", "last_name"),
            ("name", "", "", "full_name"),
            ("id ref reference", "", "", "source_ref"),
        )
    )
)


# Value shapes, tried on a column's sample values.

_SMALLEST_BARE_BUDGET: Final = 100_000


def is_phone(text: str, region: str) -> bool:
    """Whether every number in ``text`` is a valid phone number of ``region``."""
    pieces = split_phones(text)
    try:
        for piece in pieces:
            fast_phone(undo_excel_number(piece), region)
    except ValidationFailed:
        return False
    return bool(pieces)


def is_budget(text: str, currency: str) -> bool:
    """Whether ``text`` reads as a budget; a bare number must be at least 1,00,000."""
    try:
        low, high, _ = parse_budget(text, currency=currency)
    except ValidationFailed:
        return False
    bare = text.replace(",", "").strip().isdigit()
    return not bare or max(a for a in (low, high) if a is not None) >= _SMALLEST_BARE_BUDGET


def is_date(text: str, day_first: bool) -> bool:
    """Whether ``text`` reads as a date."""
    try:
        parse_when(text, day_first=day_first)
    except ValidationFailed:
        return False
    return True


def is_email(text: str) -> bool:
    """Whether ``text`` is one email address."""
    if "@" not in text:
        return False
    try:
        normalize_email(text)
    except ValidationFailed:
        return False
    return True
