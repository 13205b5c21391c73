// Integration tests run real services; each test states its own deadlines with eventually().
jest.setTimeout(180_000);
