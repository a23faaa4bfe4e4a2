"""Stock: items, lots, the append-only ledger, balances, transfers, stocktakes and standards."""
