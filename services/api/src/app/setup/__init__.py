"""The public set-up status: what runs and what to configure next."""
