"""Every way of answering a question (Plato, auto and the baselines), each returning the same Result; the registry names them."""
