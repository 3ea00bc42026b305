"""The networks a study trains: gan.py's MLP, Ray Tune's MNIST DCGAN, and a user's own pair, by name."""
