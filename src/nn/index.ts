// Neural-network building blocks: Module, layers, initialisers, optimizers, schedules.
export * from './module.js';
export * from './init.js';
export * from './layers.js';
export * from './optim.js';
export * from './schedule.js';
