"""QuickBooks Online Accounting v3: invoice/customer models and a client with requestid."""
