"""Benchmarks of rl_rosetta_layer, run side by side on the machine at hand.

``python -m bench`` runs every script in this folder (``python -m bench --list`` lists them,
``python -m bench vs_sb3 scaling`` runs those two). Each script prints the machine, a few
Markdown tables and, last, one headline line. The latest numbers are in bench/README.md.
"""
