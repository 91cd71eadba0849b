// Conversations kept in this browser (IndexedDB database "hearth", object
// store "conversations", one record per conversation keyed by its id).
// Nothing of them goes to the server except the messages of a request.

const DB = 'hearth';
const STORE = 'conversations';
let opened = null;

function open() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => {
        if (!r.result.objectStoreNames.contains(STORE)) r.result.createObjectStore(STORE, { keyPath: 'id' });
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(new Error(`cannot open the browser's storage (IndexedDB): ${r.error}`));
      r.onblocked = () => reject(new Error('the browser storage is blocked by another tab of this page; close it and reload'));
    });
  }
  return opened;
}

function run(mode, f) {
  return open().then(
    (db) =>
      new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = f(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req && req.result);
        tx.onerror = () => reject(new Error(`browser storage: ${tx.error}`));
        tx.onabort = () => reject(new Error(`browser storage: ${tx.error || 'aborted (is the disk full?)'}`));
      }),
  );
}

/** Every conversation, the most recently changed first. */
export async function all() {
  const list = (await run('readonly', (s) => s.getAll())) || [];
  return list.sort((a, b) => b.updated - a.updated);
}

export function get(id) {
  return run('readonly', (s) => s.get(id));
}

export function put(conv) {
  return run('readwrite', (s) => s.put(conv));
}

export function remove(id) {
  return run('readwrite', (s) => s.delete(id));
}
