"""Reports: Markdown tables, statistics files and the readable summary."""

from .export import SUMMARY_TABLE, export_summary_table
from .markdown import markdown_table
from .statistics import write_statistics

__all__ = ["SUMMARY_TABLE", "export_summary_table", "markdown_table", "write_statistics"]
