"""The Pulumi program's components (one ComponentResource per module), security rules and offline plan."""
