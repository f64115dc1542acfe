"""Parts' pure domain: key-part requests (path A then B), pricing and price confidentiality."""
