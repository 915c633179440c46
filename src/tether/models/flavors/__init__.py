"""Model flavors: how each kind of model is saved and loaded."""
