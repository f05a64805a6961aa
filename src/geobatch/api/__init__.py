"""HTTP entry points: the Bing Maps Geocode Dataflow and Geocode.Farm drop-in APIs."""
