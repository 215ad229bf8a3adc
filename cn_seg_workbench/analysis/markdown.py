"""Markdown tables, as the analysis tools print and write them."""
from typing import Sequence


def format_table(header: Sequence[str],
                 rows: Sequence[Sequence[str]],
                 left: int = 1) -> str:
    """A GitHub-flavoured Markdown table.

    Args:
        header (Sequence[str]): The column names.
        rows (Sequence[Sequence[str]]): The cells, row by row.
        left (int): How many leading columns are left-aligned (names); the
            others are right-aligned (numbers). Default: 1.

    Returns:
        str: The table, one line per row, ending in a newline.
    """
    rule = ['---'] * left + ['---:'] * (len(header) - left)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(rule) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines) + '\n'
