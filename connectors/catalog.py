"""Every source a person can connect, how, and what we read and keep: the wizard's script, as data."""

from __future__ import annotations

from dataclasses import dataclass

# How a source can be connected.
API_KEY, FILE, WEBHOOK = "api_key", "file", "webhook"
METHOD_LABELS = {
    API_KEY: "Read-only admin key (daily sync)",
    FILE: "Upload an export file",
    WEBHOOK: "Signed webhook (you push to us)",
}


@dataclass(frozen=True)
class Source:
    id: str
    label: str
    icon: str  # a Material symbol name
    methods: tuple[str, ...]
    reads: str  # what we read, in a sentence
    key_help: str = ""  # where to get a key, for API_KEY
    key_prefix: str = ""  # what a right key starts with, to catch a pasted project key early
    export_help: str = ""  # how to export a file, for FILE
    revenue: bool = False  # money in (Stripe), not spend


SOURCES: tuple[Source, ...] = (
    Source(
        "openai",
        "OpenAI",
        "neurology",
        (API_KEY, FILE),
        reads="Daily costs by line item and project, and tokens and requests by model, project and API key.",
        key_help="Create an admin key at platform.openai.com → Settings → Organization → Admin keys. "
        "Project keys cannot read costs.",
        key_prefix="sk-admin-",
        export_help="platform.openai.com → Usage → Export (cost or usage, CSV). API JSON saved to a file works too.",
    ),
    Source(
        "anthropic",
        "Anthropic",
        "psychology",
        (API_KEY, FILE),
        reads="Daily cost report by workspace and line description, and message usage by model, workspace and key.",
        key_help="Create an admin key at console.anthropic.com → Settings → Admin keys (organisation admins only).",
        key_prefix="sk-ant-admin",
        export_help="Save the cost or usage report API response (JSON) to a file.",
    ),
    Source(
        "gcp",
        "Google Cloud (Vertex AI, Gemini)",
        "cloud",
        (FILE,),
        reads="Cost, credits and project from the billing export or the console's cost table.",
        export_help="Billing → Reports → Cost table → Download CSV, or export the BigQuery billing table.",
    ),
    Source(
        "aws",
        "AWS (Bedrock)",
        "cloud_circle",
        (FILE,),
        reads="Unblended cost by day, service and usage type, with your cost allocation tags.",
        export_help="Cost Explorer → Download (JSON from `aws ce get-cost-and-usage`), or a CUR / CUR 2.0 CSV.",
    ),
    Source(
        "azure",
        "Azure OpenAI",
        "cloud_queue",
        (FILE,),
        reads="Cost in billing currency by day, meter and resource group, with tags.",
        export_help="Cost Management → Exports (cost details CSV).",
    ),
    Source(
        "helicone",
        "Helicone",
        "hub",
        (FILE,),
        reads="Each request's model, tokens, cost and properties, rolled up to one line per day.",
        export_help="Export requests with Helicone's export tool (CSV or JSONL).",
    ),
    Source(
        "langfuse",
        "Langfuse",
        "monitoring",
        (FILE,),
        reads="Generations' model, usage and cost, rolled up to one line per day.",
        export_help="Observations table → Export (CSV, JSON or JSONL).",
    ),
    Source(
        "litellm",
        "LiteLLM proxy",
        "alt_route",
        (FILE,),
        reads="Spend logs: model, tokens, spend, team and end user, rolled up to one line per day.",
        export_help="Export the LiteLLM_SpendLogs table or /spend/logs as CSV or JSON.",
    ),
    Source(
        "stripe",
        "Stripe (revenue)",
        "payments",
        (API_KEY, WEBHOOK),
        reads="Balance transactions: charges, refunds, fees and disputes by customer (read-only).",
        key_help="Create a restricted key with read access to Balance and Charges at dashboard.stripe.com → "
        "Developers → API keys.",
        key_prefix="rk_",
        revenue=True,
    ),
    Source(
        "custom",
        "Any other CSV or JSON",
        "table_view",
        (FILE, WEBHOOK),
        reads="Date, amount, vendor and description columns; you confirm which is which.",
        export_help="Any spreadsheet or invoice export with a date and an amount per line.",
    ),
)

PROVIDER_OF = {"openai": "OpenAI", "anthropic": "Anthropic", "stripe": "Stripe"}
STORED_TEXT = (
    "Keys are encrypted at rest (AES-256-GCM) and shown back only as their last four characters. "
    "Choose 'use once' to keep the key in memory for this backfill only."
)


def source(source_id: str) -> Source:
    for item in SOURCES:
        if item.id == source_id:
            return item
    raise KeyError(source_id)
