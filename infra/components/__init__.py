"""The program's components: ComponentResources, and the resources and policy documents they are built from."""
