"""Parts' adapters: MongoDB records and the repair-record PDF."""
