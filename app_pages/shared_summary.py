"""A share link's executive summary: read-only, with its Download PDF button."""

from ui import context, share

share.render_shared_summary(context.current())
