"""Reading inputs and writing products: FITS helpers, input lists, instrument headers, products."""
