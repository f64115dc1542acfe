"""Paging parameters, bounded: a page past the last is an empty page, a page past any store's integers
(`skip` is a 64-bit int in MongoDB) is a 422 naming the parameter, never a 500."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_PAGE = 10_000
MAX_PAGE_SIZE = 100

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1 … {MAX_PAGE}; past the last page, no items.")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page, 1 … {MAX_PAGE_SIZE}.")]
