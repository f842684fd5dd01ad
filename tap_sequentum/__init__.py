"""Singer tap for Sequentum Cloud."""
