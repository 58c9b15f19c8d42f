"""Codecs: the user's formats to tensors and back, reversibly."""

from genaug.data.images import ImageCodec, as_nchw, is_image_data
from genaug.data.tabular import Span, TabularCodec, check_table

__all__ = ["ImageCodec", "Span", "TabularCodec", "as_nchw", "check_table", "is_image_data"]
