import streamlit as st

st.title("Connect your data")
st.info(
    "The step-by-step connection wizard is on its way. Here is what it will do, so you can get your keys and "
    "exports ready.",
    icon=":material/construction:",
)
st.markdown(
    """
1. **Choose a source**: OpenAI, Anthropic, Google Cloud, AWS Bedrock, Azure OpenAI, Helicone, Langfuse, LiteLLM,
   Stripe for revenue, or any CSV/JSON file.
2. **Choose how**: a read-only admin key (usage and cost only), a file export, or a signed webhook.
3. **See what we read and store**: keys are encrypted at rest, or used once and forgotten, as you choose.
4. **Test the connection**, then backfill 90 days with a progress bar.
5. **Your first insight**: "Imported $48,210 across 92 days from OpenAI", straight to the Overview.
"""
)
st.page_link("app_pages/get_started.py", label="Meanwhile, explore with demo data", icon=":material/auto_awesome:")
