"""losslab: loss landscapes of linear classifiers and the optimizers that cross them."""
__version__ = "0.1.0"
