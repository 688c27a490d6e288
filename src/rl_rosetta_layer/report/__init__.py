"""Reports: Markdown tables, statistics files, figures, the readable summary and the paper.

matplotlib is imported only when a figure is drawn (:mod:`.figures`).
"""

from .build import write_report_extras
from .export import SUMMARY_TABLE, export_summary_table
from .figures import write_figures
from .markdown import markdown_table
from .paper import PaperCheckError, check_paper, write_paper
from .statistics import write_statistics
from .tables import write_analysis_table

__all__ = ["SUMMARY_TABLE", "export_summary_table", "markdown_table", "write_statistics",
           "write_analysis_table", "write_figures", "write_report_extras", "check_paper",
           "write_paper", "PaperCheckError"]
