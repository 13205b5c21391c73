// Writes jest's counts as JSON to $JEST_SUMMARY_FILE (when set), for .ci/run's closing line.
const { writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.JEST_SUMMARY_FILE;
    if (!file) return;
    const failedSuites = results.testResults.filter((r) => r.testExecError || r.failureMessage).map((r) => r.testFilePath);
    writeFileSync(
      file,
      JSON.stringify({
        passed: results.numPassedTests,
        failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
        skipped: results.numPendingTests + results.numTodoTests,
        total: results.numTotalTests,
        failedSuites,
        success: results.success,
      }),
    );
  }
}

module.exports = SummaryReporter;
