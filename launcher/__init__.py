"""The local stack: every layer of the product on one machine (`make chat`)."""
