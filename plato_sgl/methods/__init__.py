"""The methods a user compares Plato against, built the same way and returning the same Result."""
