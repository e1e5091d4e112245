"""The engine: workers that claim and run, the reaper that recovers lost runs."""
