//! # hepq-catalog: what the lakehouse remembers
//!
//! The persistent catalog behind a warehouse: schemas, external tables, Iceberg-managed tables
//! and materialised views with their refresh state, exposed to DataFusion as a
//! `CatalogProvider`. It does not know the file formats: `hepq-sql` hands it a table factory.
//!
//! Status: the persistent catalog arrives with the catalog issue. Until then a warehouse is a
//! directory whose `tables/NAME/` folders are registered as Parquet tables by `hepq-sql`.
