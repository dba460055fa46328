//! hepq statements that act (`CREATE`/`REFRESH`/`DROP MATERIALIZED VIEW`) as plans, for front
//! ends that plan a statement before they run it (the PostgreSQL server describes a statement
//! at Parse and runs it at Execute).
//!
//! The plan is a scan of a [`CommandTable`], whose execution plan performs the action when its
//! stream is first polled, so planning, describing and `EXPLAIN` never act; running the plan
//! acts once and yields the statement's result rows. [`command_tag`] gives the PostgreSQL
//! command tag of such a plan.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::source_as_provider;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};

/// The action of a command: runs it, returning its result rows.
pub type Action = Arc<dyn Fn() -> BoxFuture<'static, Result<Vec<RecordBatch>>> + Send + Sync>;

/// A table whose scan performs a command.
pub struct CommandTable {
    tag: &'static str,
    schema: SchemaRef,
    action: Action,
}

impl fmt::Debug for CommandTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandTable")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl CommandTable {
    /// A command with PostgreSQL tag `tag` (`REFRESH MATERIALIZED VIEW`) whose result rows
    /// have `schema`.
    pub fn new(tag: &'static str, schema: SchemaRef, action: Action) -> Self {
        Self {
            tag,
            schema,
            action,
        }
    }
}

#[async_trait]
impl TableProvider for CommandTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        Ok(Arc::new(CommandExec::new(
            self.tag,
            projected,
            projection.cloned(),
            Arc::clone(&self.action),
        )))
    }
}

/// Runs a [`CommandTable`]'s action when executed.
pub struct CommandExec {
    tag: &'static str,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    action: Action,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for CommandExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandExec")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl CommandExec {
    fn new(
        tag: &'static str,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
        action: Action,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            tag,
            schema,
            projection,
            action,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for CommandExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CommandExec: {}", self.tag)
    }
}

impl ExecutionPlan for CommandExec {
    fn name(&self) -> &'static str {
        "CommandExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let action = Arc::clone(&self.action);
        let projection = self.projection.clone();
        let batches = futures::stream::once(async move {
            let batches = action().await?;
            let projected: Result<Vec<RecordBatch>> = batches
                .into_iter()
                .map(|b| match &projection {
                    Some(p) => Ok(b.project(p)?),
                    None => Ok(b),
                })
                .collect();
            projected
        })
        .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches.boxed(),
        )))
    }
}

/// The PostgreSQL command tag of a plan that is a hepq command (a scan of a [`CommandTable`]).
pub fn command_tag(plan: &LogicalPlan) -> Option<&'static str> {
    let mut found = None;
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
            && let Some(command) = provider.downcast_ref::<CommandTable>()
        {
            found = Some(command.tag);
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}
