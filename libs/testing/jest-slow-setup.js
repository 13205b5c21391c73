// Slow suites wait on real minutes (budget windows) and outages.
jest.setTimeout(900_000);
