"""Rating and billing: price lists, rating of metered usage, billing accounts, invoices, balances,
payments, the credit limit and budget alerts (issue #17). Usage comes from `overcast.metering.usage`."""
