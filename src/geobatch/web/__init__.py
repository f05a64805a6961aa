"""The web page: its static assets, the router that serves them, and the offline basemap."""
