//! Where the executor hands finished requests: a `RecordSink`. The run's
//! sink writes them to the run directory (`RecordWriter`) and moves the
//! progress bar (`WithProgress`); a test or a library caller can keep them
//! in memory (`Vec<(Record, Response)>`). The executor calls `add` for each
//! record, then `flush` before it waits for the next one, so a sink that
//! buffers never holds a record while the run waits.

use super::Progress;
use crate::record::{Record, Response};
use crate::store::{RecordWriter, StoreError};

/// Takes every finished request of a run, in the order they finish.
pub trait RecordSink {
    /// Takes one record and its response; may buffer them until `flush`.
    fn add(&mut self, record: &Record, response: &Response) -> Result<(), StoreError>;
    /// Puts everything added so far where it goes.
    fn flush(&mut self) -> Result<(), StoreError>;
    /// Every request of a cell is in (for progress displays).
    fn cell_done(&mut self) {}
}

impl RecordSink for RecordWriter {
    fn add(&mut self, record: &Record, response: &Response) -> Result<(), StoreError> {
        RecordWriter::add(self, record, response)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        RecordWriter::flush(self)
    }
}

/// Records kept in memory, in the order they finished.
impl RecordSink for Vec<(Record, Response)> {
    fn add(&mut self, record: &Record, response: &Response) -> Result<(), StoreError> {
        self.push((record.clone(), response.clone()));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A sink that also moves a progress bar.
pub struct WithProgress<S> {
    pub sink: S,
    pub progress: Progress,
}

impl<S: RecordSink> RecordSink for WithProgress<S> {
    fn add(&mut self, record: &Record, response: &Response) -> Result<(), StoreError> {
        self.sink.add(record, response)?;
        self.progress.record(record);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.sink.flush()
    }

    fn cell_done(&mut self) {
        self.progress.cell_done();
    }
}

impl<S: RecordSink + ?Sized> RecordSink for &mut S {
    fn add(&mut self, record: &Record, response: &Response) -> Result<(), StoreError> {
        (**self).add(record, response)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        (**self).flush()
    }

    fn cell_done(&mut self) {
        (**self).cell_done()
    }
}
