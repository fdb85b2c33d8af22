"""Large-neighbourhood search (lns): re-solve free sets of a row exactly, chosen by a bandit."""
