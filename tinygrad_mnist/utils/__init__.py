"""Small helpers every layer shares, at the bottom of the house: argument checks, atomic
writes, .npz reading, memory estimates, terminal detection. Import the module you need
(`from tinygrad_mnist.utils.checks import check_number`); nothing is re-exported here."""
