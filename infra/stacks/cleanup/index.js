// Easel's first-deploy cleanup (infra/stacks/cleanup.go). CloudFormation deletes it just
// before the catalog table and the buckets. Only while the stack rolls back its own
// creation (ROLLBACK_IN_PROGRESS) does it act: it turns off the table's deletion
// protection and empties and deletes the buckets, so that CloudFormation can remove
// what the failed first deploy created. On a stack deletion or an update rollback it
// changes nothing: the table and the buckets are retained with their data.
const { CloudFormationClient, DescribeStacksCommand } = require('@aws-sdk/client-cloudformation');
const { DynamoDBClient, DescribeTableCommand, UpdateTableCommand } = require('@aws-sdk/client-dynamodb');
const { S3Client, ListObjectVersionsCommand, DeleteObjectsCommand, DeleteBucketCommand } = require('@aws-sdk/client-s3');

exports.handler = async (event) => {
  let reason = 'nothing to do';
  try {
    if (event.RequestType === 'Delete') reason = await cleanup(event);
  } catch (e) {
    // Never block a rollback: CloudFormation then reports what it could not delete.
    console.error('cleanup failed', e);
    reason = 'cleanup failed: ' + e;
  }
  console.log(event.RequestType, reason);
  await respond(event, reason);
};

async function cleanup(event) {
  const p = event.ResourceProperties;
  const out = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: event.StackId }));
  const status = out.Stacks[0].StackStatus;
  if (status !== 'ROLLBACK_IN_PROGRESS') return 'stack is ' + status + ': data kept';
  await unprotect(new DynamoDBClient({}), p.TableName);
  const s3 = new S3Client({});
  for (const b of p.Buckets) await removeBucket(s3, b);
  return 'first deploy rolled back: table unprotected, buckets removed';
}

async function unprotect(ddb, TableName) {
  for (let i = 0; i < 90; i++) {
    let t;
    try {
      t = (await ddb.send(new DescribeTableCommand({ TableName }))).Table;
    } catch (e) {
      if (e.name === 'ResourceNotFoundException') return;
      throw e;
    }
    if (t.TableStatus === 'ACTIVE') {
      if (!t.DeletionProtectionEnabled) return;
      await ddb.send(new UpdateTableCommand({ TableName, DeletionProtectionEnabled: false }));
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error('table ' + TableName + ' did not become ACTIVE');
}

async function removeBucket(s3, Bucket) {
  for (let tries = 0; ; tries++) {
    try {
      for (;;) {
        const l = await s3.send(new ListObjectVersionsCommand({ Bucket }));
        const objs = [...(l.Versions || []), ...(l.DeleteMarkers || [])].map((v) => ({ Key: v.Key, VersionId: v.VersionId }));
        if (objs.length === 0) break;
        await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: objs, Quiet: true } }));
      }
      // Deleted here, right after emptying: log deliveries may still be arriving.
      await s3.send(new DeleteBucketCommand({ Bucket }));
      return;
    } catch (e) {
      if (e.name === 'NoSuchBucket') return;
      if (e.name !== 'BucketNotEmpty' || tries >= 5) throw e;
    }
  }
}

function respond(event, reason) {
  const body = JSON.stringify({
    Status: 'SUCCESS', Reason: reason.slice(0, 500), PhysicalResourceId: event.PhysicalResourceId || 'first-deploy-cleanup',
    StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId,
  });
  const client = require(event.ResponseURL.startsWith('https:') ? 'https' : 'http');
  return new Promise((resolve, reject) => {
    const req = client.request(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } },
      (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(body);
  });
}
