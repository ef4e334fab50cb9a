"""Who may do what, and how much: limits that hold across every process of a deployment."""
