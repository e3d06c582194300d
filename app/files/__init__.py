"""Documents and images as agent inputs (issue 11): file fields, preparation, storage."""
