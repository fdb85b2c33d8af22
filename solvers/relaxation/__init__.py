"""The relaxed mask problem: Frank-Wolfe engine, exact active-set solver, certificates, SparseFW."""
