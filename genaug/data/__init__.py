"""Codecs: the user's formats to tensors and back, reversibly."""

from genaug.data.tabular import Span, TabularCodec, check_table

__all__ = ["Span", "TabularCodec", "check_table"]
