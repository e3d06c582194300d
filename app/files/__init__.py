"""Documents and images as agent inputs: file fields, preparation, storage."""
