"""The Ray Tune + Optuna study of the vanilla GAN. All Ray code of the project lives here."""
