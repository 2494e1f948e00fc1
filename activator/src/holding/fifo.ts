/** A node that can sit in one Fifo at a time; the links live on the node, so queueing allocates nothing. */
export interface FifoNode<T extends FifoNode<T>> {
  prev: T | null;
  next: T | null;
  queued: boolean;
}

/** Intrusive doubly linked FIFO: O(1) push, unshift and removal from anywhere (a client that left). */
export class Fifo<T extends FifoNode<T>> {
  head: T | null = null;
  private tail: T | null = null;
  size = 0;

  push(node: T): void {
    node.prev = this.tail;
    node.next = null;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    node.queued = true;
    this.size++;
  }

  /** Puts a node back at the front (a request that had already been released once). */
  unshift(node: T): void {
    node.prev = null;
    node.next = this.head;
    if (this.head) this.head.prev = node;
    else this.tail = node;
    this.head = node;
    node.queued = true;
    this.size++;
  }

  remove(node: T): void {
    if (!node.queued) return;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = null;
    node.queued = false;
    this.size--;
  }
}
