"""Pieces the pages are drawn with. Each renders one thing; none holds the page's logic."""
